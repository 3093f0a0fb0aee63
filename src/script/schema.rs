//! HeartRule's script schemas (session, phase, topic, action base, the four action configs
//! and OutputField, all `additionalProperties: false`) as Rust tables, plus Planbase's
//! extensions and HeartRule's deprecated-field registry.
//!
//! They are written out here rather than loaded, so the binary owns its schema (DESIGN §5);
//! tests compare their behaviour against the fixtures.

/// Planbase's additions to HeartRule's schema, as (where, what), for the README. Each entry's
/// `what` starts with the key in backticks; a test keeps this table and the shapes in step.
pub const EXTENSIONS: &[(&str, &str)] = &[
    ("OutputField", "`extract`: how the value is taken from the user's reply: `direct`, `pattern` or `llm`"),
    (
        "OutputField",
        "`pattern`: a regular expression (Rust `regex` syntax), required by `extract: pattern`; \
         capture group 1 is taken when the pattern has one, else the whole match",
    ),
    (
        "OutputField",
        "`instruction`: guidance for `llm` extraction (where HeartRule's registry sends \
         `extraction_prompt`)",
    ),
    ("OutputField", "`variable`: the variable to store the value in (HeartRule's migration text uses it)"),
    ("ai_say config", "`require_acknowledgment`: boolean; wait for a user turn after speaking (default false)"),
    ("ai_say config", "`ai_role`: string; the role the model speaks as"),
    ("ai_ask config", "`ai_role`: string; the role the model speaks as"),
];

/// What a value must be.
pub(crate) enum Ty {
    /// A string of `min..=max` characters; JSON Schema counts code points, and so does this.
    Str {
        min: usize,
        max: Option<usize>,
    },
    /// A string of 1..=max characters matching `^[a-zA-Z0-9_]+$` (session_id).
    Ident {
        max: usize,
    },
    /// A number (integer or float) in `min..=max`.
    Number {
        min: f64,
        max: f64,
    },
    Bool,
    /// Any mapping; its content is not checked (entry_condition; config before dispatch).
    AnyMap,
    /// A string from a fixed list.
    OneOf(&'static [&'static str]),
    /// A list of at least `min` items, each of the given shape.
    List {
        min: usize,
        item: &'static Shape,
    },
    /// A string that compiles as a `regex` pattern.
    Regex,
}

pub(crate) struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// A Planbase extension, listed in [`EXTENSIONS`].
    pub extension: bool,
}

/// A name from HeartRule's deprecated-field registry: a warning, not an unknown key.
pub(crate) struct Deprecated {
    pub name: &'static str,
    /// None when the key should simply be removed.
    pub replacement: Option<&'static str>,
    pub reason: &'static str,
}

/// One object schema.
pub(crate) struct Shape {
    /// How messages name it: "session", "ai_ask config", "OutputField", …
    pub name: &'static str,
    pub fields: &'static [Field],
    pub deprecated: &'static [Deprecated],
    /// An action config: the runtime reads its keys through `getConfig`, which also accepts
    /// camelCase, so camelCase here is a warning rather than an unknown key.
    pub config: bool,
}

impl Shape {
    pub(crate) fn field(&'static self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub(crate) fn deprecated(&'static self, name: &str) -> Option<&'static Deprecated> {
        self.deprecated.iter().find(|d| d.name == name)
    }
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, required: true, extension: false }
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, required: false, extension: false }
}

const fn ext(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, required: false, extension: true }
}

const fn text(max: usize) -> Ty {
    Ty::Str { min: 0, max: Some(max) }
}

const ANY_TEXT: Ty = Ty::Str { min: 0, max: None };
const NON_EMPTY: Ty = Ty::Str { min: 1, max: None };
const ID: Ty = Ty::Str { min: 1, max: Some(100) };
const ROUNDS: Ty = Ty::Number { min: 1.0, max: 10.0 };
const OUTPUTS: Ty = Ty::List { min: 0, item: &OUTPUT_FIELD };

pub(crate) const ACTION_TYPES: &[&str] = &["ai_say", "ai_ask", "ai_think", "use_skill"];
pub(crate) const EXTRACT_MODES: &[&str] = &["direct", "pattern", "llm"];

pub(crate) static SESSION: Shape = Shape {
    name: "session",
    fields: &[
        req("session_id", Ty::Ident { max: 100 }),
        opt("session_name", text(200)),
        opt("template_scheme", text(100)),
        opt("description", text(1000)),
        opt("version", text(50)),
        req("phases", Ty::List { min: 1, item: &PHASE }),
    ],
    deprecated: &[],
    config: false,
};

pub(crate) static PHASE: Shape = Shape {
    name: "phase",
    fields: &[
        req("phase_id", ID),
        opt("phase_name", text(200)),
        opt("phase_goal", text(500)),
        opt("description", text(1000)),
        opt("entry_condition", Ty::AnyMap),
        req("topics", Ty::List { min: 1, item: &TOPIC }),
    ],
    deprecated: &[],
    config: false,
};

pub(crate) static TOPIC: Shape = Shape {
    name: "topic",
    fields: &[
        req("topic_id", ID),
        opt("topic_name", text(200)),
        opt("topic_goal", text(500)),
        opt("description", text(1000)),
        opt("strategy", text(2000)),
        req("actions", Ty::List { min: 1, item: &ACTION }),
    ],
    deprecated: &[],
    config: false,
};

/// `config` is required and checked per `action_type` by the validator, as the schema's
/// `allOf`/`if`/`then` does.
pub(crate) static ACTION: Shape = Shape {
    name: "action",
    fields: &[
        req("action_type", Ty::OneOf(ACTION_TYPES)),
        req("action_id", ID),
        opt("condition", ANY_TEXT),
        opt("config", Ty::AnyMap),
    ],
    deprecated: &[],
    config: false,
};

/// `exit_criteria` switched the original ai_say/ai_ask into a multi-round mode driven by an
/// object; Planbase's `exit` (a string condition) does that job.
const EXIT_CRITERIA: Deprecated =
    Deprecated { name: "exit_criteria", replacement: Some("exit"), reason: "superseded by the `exit` condition" };

pub(crate) static AI_SAY: Shape = Shape {
    name: "ai_say config",
    fields: &[
        req("content", NON_EMPTY),
        opt("tone", ANY_TEXT),
        opt("exit", ANY_TEXT),
        opt("max_rounds", ROUNDS),
        ext("require_acknowledgment", Ty::Bool),
        ext("ai_role", ANY_TEXT),
    ],
    deprecated: &[
        Deprecated { name: "content_template", replacement: Some("content"), reason: "renamed to `content`" },
        EXIT_CRITERIA,
    ],
    config: true,
};

pub(crate) static AI_ASK: Shape = Shape {
    name: "ai_ask config",
    fields: &[
        req("content", NON_EMPTY),
        opt("tone", ANY_TEXT),
        opt("exit", ANY_TEXT),
        opt("output", OUTPUTS),
        opt("max_rounds", ROUNDS),
        ext("ai_role", ANY_TEXT),
    ],
    deprecated: &[
        Deprecated { name: "question_template", replacement: Some("content"), reason: "replaced by `content`" },
        Deprecated { name: "target_variable", replacement: Some("output"), reason: "replaced by the `output` list" },
        // HeartRule's registry says `output[].instruction`, but its OutputField schema only
        // allows get/set/define/value, so that advice fails its own gate. `define` is what
        // the original AiAskAction uses as the extraction instruction, and it is valid
        // without Planbase's extensions.
        Deprecated {
            name: "extraction_prompt",
            replacement: Some("output[].define"),
            reason: "replaced by `define` in the `output` list",
        },
        Deprecated { name: "required", replacement: None, reason: "it has no effect" },
        EXIT_CRITERIA,
    ],
    config: true,
};

pub(crate) static AI_THINK: Shape = Shape {
    name: "ai_think config",
    fields: &[req("content", NON_EMPTY), opt("output", OUTPUTS)],
    deprecated: &[Deprecated {
        name: "prompt_template",
        replacement: Some("content"),
        reason: "replaced by `content`",
    }],
    config: true,
};

pub(crate) static USE_SKILL: Shape = Shape {
    name: "use_skill config",
    fields: &[req("skill", NON_EMPTY), opt("input", OUTPUTS), opt("output", OUTPUTS)],
    deprecated: &[],
    config: true,
};

/// None of its keys is required, so `{}` is a valid OutputField, as in HeartRule.
pub(crate) static OUTPUT_FIELD: Shape = Shape {
    name: "OutputField",
    fields: &[
        opt("get", ANY_TEXT),
        opt("set", ANY_TEXT),
        opt("define", ANY_TEXT),
        opt("value", ANY_TEXT),
        ext("extract", Ty::OneOf(EXTRACT_MODES)),
        ext("pattern", Ty::Regex),
        ext("instruction", ANY_TEXT),
        ext("variable", ANY_TEXT),
    ],
    deprecated: &[],
    config: false,
};

pub(crate) static CONFIGS: &[&Shape] = &[&AI_SAY, &AI_ASK, &AI_THINK, &USE_SKILL];

/// The config schema for an action type, as base.schema.json's `if`/`then` chooses it.
pub(crate) fn config_shape(action_type: &str) -> Option<&'static Shape> {
    match action_type {
        "ai_say" => Some(&AI_SAY),
        "ai_ask" => Some(&AI_ASK),
        "ai_think" => Some(&AI_THINK),
        "use_skill" => Some(&USE_SKILL),
        _ => None,
    }
}
