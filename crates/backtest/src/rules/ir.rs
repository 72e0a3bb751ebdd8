//! The compiled form of a rule: a typed tree ([`Node`]) whose every part knows its type
//! ([`Ty`]: number or bool (or a string, for comparing a choice parameter), scalar or
//! series) and where in the rule's text it was written.

use expr::{BinOp, Span};

/// Number, bool or string (a choice parameter or a string literal, only for `==`/`!=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Num,
    Bool,
    Str,
}

impl Kind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Num => "a number",
            Kind::Bool => "a bool",
            Kind::Str => "a string",
        }
    }
}

/// A type: a kind, and whether the value is one per combination (scalar: parameters and
/// literals) or one per symbol per day (series).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Ty {
    pub kind: Kind,
    pub series: bool,
}

/// A price series of the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl Field {
    pub(crate) const ALL: [Field; 5] = [
        Field::Open,
        Field::High,
        Field::Low,
        Field::Close,
        Field::Volume,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A function of the language (see `functions.rs` for the table users read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Func {
    Lag,
    Ret,
    Sma,
    Ema,
    Std,
    Highest,
    Lowest,
    Rsi,
    Atr,
    Zscore,
    Crossover,
    Crossunder,
    Abs,
    Min,
    Max,
    Sign,
    Clip,
    Log,
    If,
    Rank,
}

impl Func {
    /// The function's name as written.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Func::Lag => "lag",
            Func::Ret => "ret",
            Func::Sma => "sma",
            Func::Ema => "ema",
            Func::Std => "std",
            Func::Highest => "highest",
            Func::Lowest => "lowest",
            Func::Rsi => "rsi",
            Func::Atr => "atr",
            Func::Zscore => "zscore",
            Func::Crossover => "crossover",
            Func::Crossunder => "crossunder",
            Func::Abs => "abs",
            Func::Min => "min",
            Func::Max => "max",
            Func::Sign => "sign",
            Func::Clip => "clip",
            Func::Log => "log",
            Func::If => "if",
            Func::Rank => "rank",
        }
    }

    pub(crate) fn of(name: &str) -> Option<Func> {
        Some(match name {
            "lag" => Func::Lag,
            "ret" => Func::Ret,
            "sma" => Func::Sma,
            "ema" => Func::Ema,
            "std" => Func::Std,
            "highest" => Func::Highest,
            "lowest" => Func::Lowest,
            "rsi" => Func::Rsi,
            "atr" => Func::Atr,
            "zscore" => Func::Zscore,
            "crossover" => Func::Crossover,
            "crossunder" => Func::Crossunder,
            "abs" => Func::Abs,
            "min" => Func::Min,
            "max" => Func::Max,
            "sign" => Func::Sign,
            "clip" => Func::Clip,
            "log" => Func::Log,
            "if" => Func::If,
            "rank" => Func::Rank,
            _ => return None,
        })
    }
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    /// A number or bool literal (bool as 1 / 0), or `w`.
    Const(f64),
    /// A string literal.
    Str(String),
    /// A declared parameter, by its index in the declarations.
    Param(usize),
    /// A price series.
    Price(Field),
    Neg(Box<Node>),
    Not(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

/// A typed node and the part of the rule's text it came from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub op: Op,
    pub ty: Ty,
    pub span: Span,
    /// For a series node that is not a price: the id of its shape with the scalar parts
    /// left out (`sma(close, ·)`), so that equal computations (this node in another rule,
    /// or in another combination with the same windows) can share one result. Set after
    /// checking ([`assign_templates`]).
    pub template: Option<u32>,
}

impl Node {
    /// The direct children, in order.
    pub(crate) fn children(&self) -> Vec<&Node> {
        match &self.op {
            Op::Const(_) | Op::Str(_) | Op::Param(_) | Op::Price(_) => Vec::new(),
            Op::Neg(a) | Op::Not(a) => vec![a],
            Op::Binary(_, a, b) => vec![a, b],
            Op::Call(_, args) => args.iter().collect(),
        }
    }

    /// Calls `f` on this node and every node inside it, parents first.
    pub(crate) fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Node)) {
        f(self);
        for c in self.children() {
            c.visit(f);
        }
    }
}

/// Gives every series node that is not a price a template id: nodes that compute the same
/// thing up to their scalar parts (parameters, literals) get the same id, across all the
/// rules of `roots`. Returns the number of templates.
pub(crate) fn assign_templates(roots: &mut [&mut Node]) -> u32 {
    let mut ids: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for root in roots.iter_mut() {
        assign(root, &mut ids);
    }
    u32::try_from(ids.len()).unwrap_or(u32::MAX)
}

fn assign(node: &mut Node, ids: &mut std::collections::HashMap<String, u32>) {
    match &mut node.op {
        Op::Neg(a) | Op::Not(a) => assign(a, ids),
        Op::Binary(_, a, b) => {
            assign(a, ids);
            assign(b, ids);
        }
        Op::Call(_, args) => args.iter_mut().for_each(|a| assign(a, ids)),
        Op::Const(_) | Op::Str(_) | Op::Param(_) | Op::Price(_) => {}
    }
    if node.ty.series && !matches!(node.op, Op::Price(_)) {
        let shape = shape(node);
        let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        node.template = Some(*ids.entry(shape).or_insert(next));
    }
}

/// The canonical text of a series node with its maximal scalar parts written `·`.
fn shape(node: &Node) -> String {
    if !node.ty.series {
        return "·".to_string();
    }
    match &node.op {
        Op::Price(f) => f.name().to_string(),
        Op::Neg(a) => format!("-({})", shape(a)),
        Op::Not(a) => format!("not({})", shape(a)),
        Op::Binary(op, a, b) => format!("({} {} {})", shape(a), op.symbol(), shape(b)),
        Op::Call(func, args) => {
            let args: Vec<String> = args.iter().map(shape).collect();
            format!("{func:?}({})", args.join(","))
        }
        Op::Const(_) | Op::Str(_) | Op::Param(_) => "·".to_string(),
    }
}
