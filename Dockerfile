# slurm-sweep in a container: a build stage that compiles static musl binaries for the
# architecture it runs on (x86_64, or aarch64 with `docker buildx build --platform
# linux/arm64`), then a minimal runtime image holding only sweep, bt-worker and collect.
#
#   docker build -t slurm-sweep .
#   docker run --rm --user "$(id -u):$(id -g)" \
#       -v "$PWD/data:/data:ro" -v "$PWD/results:/results" slurm-sweep \
#       bt-worker run --strategy fixed_weights --data-dir /data --symbols SPY,AGG \
#       -p w_SPY=0.6 -p w_AGG=0.4 --benchmark SPY --json /results/sixty_forty.json
#
# In a sweep, `[slurm.container]` (runtime = "docker" or "apptainer", image = ...) wraps the
# task's command in `docker run` / `apptainer exec` with the shared filesystem bound at the
# same path; the worker is $SHAREDFS/bin/$(uname -m)/bt-worker when installed there, else
# the image's own bt-worker (/usr/local/bin).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && cargo build --release --locked --target "$target" \
        --bin sweep --bin bt-worker --bin collect \
 && mkdir -p /out \
 && cp "target/$target/release/sweep" \
       "target/$target/release/bt-worker" \
       "target/$target/release/collect" /out/

FROM debian:bookworm-slim AS runtime
# The binaries are static; the slim base only gives a shell for setup lines and `uname`.
COPY --from=build /out/ /usr/local/bin/
# World-writable so that `docker run --user UID:GID` (the job user, as the array script
# runs it) can write results when no volume is mounted there.
RUN mkdir -p /results /data && chmod 1777 /results
WORKDIR /results
CMD ["bt-worker", "--help"]
