# slurm-sweep in a container: a build stage that compiles static musl binaries, then a
# minimal runtime image holding only sweep, bt-worker and collect.
#
#   docker build -t slurm-sweep .
#   docker run --rm -v "$PWD/data:/data:ro" -v "$PWD/results:/results" slurm-sweep \
#       bt-worker run --strategy fixed_weights --data-dir /data --symbols SPY,AGG \
#       -p w_SPY=0.6 -p w_AGG=0.4 --json /results/sixty_forty.json
#
# In a sweep, `[slurm.container]` wraps the task's command in `docker run` or
# `apptainer exec` with the shared filesystem bound at the same path.

FROM rust:1-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
        --bin sweep --bin bt-worker --bin collect \
 && mkdir -p /out \
 && cp target/x86_64-unknown-linux-musl/release/sweep \
       target/x86_64-unknown-linux-musl/release/bt-worker \
       target/x86_64-unknown-linux-musl/release/collect /out/

FROM debian:bookworm-slim AS runtime
# The binaries are static; the slim base only gives a shell for setup lines and `uname`.
COPY --from=build /out/ /usr/local/bin/
RUN mkdir -p /results /data
WORKDIR /results
CMD ["bt-worker", "--help"]
