//! Chat turns: the user's message in, the script engine (or free chat) run, and the whole
//! turn written in one transaction on the session shard — the user message, exactly one
//! assistant message, the variable history, the state, the `turns` row and the action runs.
//!
//! The model runs outside the transaction (it may take seconds), on a blocking thread (the
//! offline model on the storage read threads, see `storage::read_pool`); the
//! write then checks that the state it started from is still current. Turns of one session
//! run one at a time ([`gate`]). A turn whose model fails is recorded as failed: the user
//! message, a failed `turns` row and its runs, the state untouched.
//!
//! The session's opening ([`open`], run when the session is created) is a turn without a
//! user message: the script's first actions, up to the first that needs input, stored as one
//! assistant message. If it fails (the model is down), the session still exists with a
//! failed opening turn, and the first user turn runs the opening before answering.
//!
//! [`start_turn`] streams: spoken text goes through a channel to the HTTP layer as the model
//! produces it, and the turn is stored when the model has finished, before the channel says
//! [`TurnEvent::Done`]. If nobody reads the channel any more, the next piece of text stops
//! the model and the turn is recorded as failed.

mod gate;
mod load;
mod think;
mod write;

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use uuid::Uuid;

use super::model::{Message, NewMessage};
use super::summary::Summaries;
use crate::error::{AppError, AppResult};
use crate::llm::chat::{client_gone, LlmProvider};
use crate::script::runtime::llm_model::{Sink, Spoken};
use crate::script::runtime::runs::RunRecord;
use crate::script::runtime::turn::client_position;
use crate::script::Limits;
use crate::storage::{ShardKind, ShardManager};
use load::{last_turn, load, LastTurn, Loaded};
use think::{think, Failure, Thought};
use write::Plan;

const S: ShardKind = ShardKind::Session;

/// What a turn answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TurnResult {
    /// None for the session's opening.
    pub user_message: Option<Message>,
    /// Always there for a user turn; None for an opening whose actions are all silent.
    pub assistant_message: Option<Message>,
    pub status: String,
    pub execution_status: String,
    pub position: Value,
    pub variables: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<Value>,
}

/// What a streaming turn reports, in order: text parts (one per action that speaks), then
/// `Done` once the turn is stored, or `Failed`.
#[derive(Debug)]
pub enum TurnEvent {
    TextStart { action_id: String },
    TextDelta(String),
    TextEnd,
    Done(Box<TurnResult>),
    Failed(AppError),
}

/// Shared services a turn needs besides its input; cheap to clone.
#[derive(Clone)]
pub struct TurnEnv {
    pub shards: ShardManager,
    pub sums: Summaries,
    pub search: Arc<crate::search::SearchFeed>,
    pub provider: Arc<dyn LlmProvider>,
    pub limits: Limits,
}

/// A turn ready to run, holding its session's slot.
struct Prepared {
    sid: Uuid,
    loaded: Loaded,
    plan: Arc<Plan>,
    debug: bool,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// One chat turn: `user` is a validated user message. `None` regenerates: the last turn is
/// re-run from its `state_before` and replaces its assistant message.
pub async fn run_turn(env: &TurnEnv, sid: Uuid, user: Option<NewMessage>, debug: bool) -> AppResult<TurnResult> {
    let p = prepare(env, sid, user, debug).await?;
    execute(env, p, None).await
}

/// Runs the session's opening and stores it as a turn without a user message (DESIGN.md §5:
/// starting a session runs actions until the first that needs input). None when no opening
/// is due: no script that loads, or the session has had a turn already. On a model failure
/// the opening is recorded as a failed turn and the error returned.
pub async fn open(env: &TurnEnv, sid: Uuid) -> AppResult<Option<TurnResult>> {
    let slot = gate::acquire(sid).await?;
    let limits = env.limits.clone();
    let due = env
        .shards
        .read(S, sid, move |c| {
            let loaded = load(c)?;
            Ok(load::opening_due(c, &loaded, &limits)?.then_some(loaded))
        })
        .await
        .map_err(super::service::shard_err)?;
    let Some(loaded) = due else { return Ok(None) };
    let p = ready(sid, loaded, (None, false, None), crate::clock::now(), false, slot);
    execute(env, p, None).await.map(Some)
}

/// [`run_turn`], streaming. Errors before the model runs are returned; after that
/// everything arrives on the receiver, which ends with `Done` or `Failed`. Answers the
/// assistant message id the turn will store.
pub async fn start_turn(
    env: &TurnEnv,
    sid: Uuid,
    user: Option<NewMessage>,
) -> AppResult<(String, UnboundedReceiver<TurnEvent>)> {
    let p = prepare(env, sid, user, false).await?;
    let id = p.plan.assistant_id.clone();
    let (tx, rx) = unbounded_channel();
    let (env, sink) = (env.clone(), sink(tx.clone()));
    // Its own task: the turn is stored (or recorded as failed) even if the client goes away.
    tokio::spawn(async move {
        let last = match execute(&env, p, Some(sink)).await {
            Ok(t) => TurnEvent::Done(Box::new(t)),
            Err(e) => TurnEvent::Failed(e),
        };
        let _ = tx.send(last);
    });
    Ok((id, rx))
}

/// Forwards spoken text to the channel; fails once the receiver is gone.
fn sink(tx: UnboundedSender<TurnEvent>) -> Sink {
    Box::new(move |s| {
        let ev = match s {
            Spoken::Start { action_id } => TurnEvent::TextStart { action_id: action_id.into() },
            Spoken::Delta(d) => TurnEvent::TextDelta(d.into()),
            Spoken::End => TurnEvent::TextEnd,
        };
        tx.send(ev).map_err(|_| client_gone())
    })
}

async fn prepare(env: &TurnEnv, sid: Uuid, user: Option<NewMessage>, debug: bool) -> AppResult<Prepared> {
    let slot = gate::acquire(sid).await?;
    let wanted = user.as_ref().map(|u| u.id.clone());
    let (mut loaded, last, taken) = env
        .shards
        .read(S, sid, move |c| {
            let taken = match &wanted {
                Some(id) => super::store::get_message(c, id)?.is_some(),
                None => false,
            };
            // The last turn matters only to a retry of a failed turn or to a regeneration;
            // the common turn skips reading (and parsing) its user message and state.
            let last = if wanted.is_none() || load::last_turn_failed(c)? { last_turn(c)? } else { None };
            Ok((load(c)?, last, taken))
        })
        .await
        .map_err(super::service::shard_err)?;
    let started_at = crate::clock::now();
    let answering = match (user, last) {
        // A client retrying the message of a failed turn re-runs that turn.
        (Some(u), Some(t)) if t.failed && t.user.as_ref().is_some_and(|m| m.id == u.id) => rerun(&mut loaded, t),
        (Some(u), _) if taken => {
            return Err(AppError::conflict(format!("a message with id {:?} already exists in this session", u.id)))
        }
        (Some(u), _) => (Some(write::new_message(u.id, "user", u.parts, u.metadata, &started_at)), true, None),
        // Regenerating right after the opening re-runs the opening.
        (None, Some(t)) => rerun(&mut loaded, t),
        (None, None) => return Err(AppError::bad_request("there is no turn to regenerate yet")),
    };
    Ok(ready(sid, loaded, answering, started_at, debug, slot))
}

/// What a turn answers: its user message (None: the opening), whether that message is new,
/// and the assistant message the turn replaces.
type Answering = (Option<Message>, bool, Option<String>);

fn ready(
    sid: Uuid,
    mut loaded: Loaded,
    (user, user_is_new, replace): Answering,
    started_at: String,
    debug: bool,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> Prepared {
    // The model sees the history without the turn it answers.
    let user_id = user.as_ref().map(|u| u.id.clone());
    loaded.history.retain(|(id, _)| Some(id) != user_id.as_ref() && Some(id) != replace.as_ref());
    let before = json!({"position": loaded.position, "variable_store": loaded.variable_store});
    let assistant_id = Uuid::now_v7().to_string();
    let expect = loaded.updated_at.clone();
    let plan = Arc::new(Plan { expect, user, user_is_new, replace, assistant_id, before, started_at });
    Prepared { sid, loaded, plan, debug, _slot: slot }
}

/// Re-runs `t` from the state before it, with its stored user message (none: the opening).
fn rerun(loaded: &mut Loaded, t: LastTurn) -> Answering {
    loaded.position = t.before["position"].clone();
    loaded.variable_store = t.before["variable_store"].clone();
    (t.user, false, t.assistant)
}

async fn execute(env: &TurnEnv, p: Prepared, sink: Option<Sink>) -> AppResult<TurnResult> {
    let text = p.plan.user.as_ref().map(|u| u.content.clone());
    let (provider, limits) = (env.provider.clone(), env.limits.clone());
    let Prepared { sid, loaded, plan, debug, _slot } = p;
    let owner = loaded.owner.clone();
    let remote = provider.waits_on_network();
    let run = move || think(&loaded, text.as_deref(), provider, &limits, sink);
    // A remote model holds its thread for seconds: tokio's blocking pool. The offline one
    // runs for microseconds: the read threads, which do not grow under load.
    let outcome = if remote {
        tokio::task::spawn_blocking(run).await.map_err(AppError::internal)?
    } else {
        env.shards.offload(move || Ok(run())).await?
    };
    match outcome {
        Ok(th) => {
            let runs = th.runs.clone();
            let r = commit(env, sid, &owner, plan.clone(), th, debug).await;
            if let Err(e) = &r {
                record_failure(env, sid, &owner, plan, e, runs).await;
            }
            r
        }
        Err(Failure::Refused(e)) => Err(e),
        Err(Failure::Failed { error, runs }) => {
            record_failure(env, sid, &owner, plan, &error, runs).await;
            Err(error)
        }
    }
}

async fn commit(
    env: &TurnEnv,
    sid: Uuid,
    owner: &Owner,
    plan: Arc<Plan>,
    th: Thought,
    debug: bool,
) -> AppResult<TurnResult> {
    let th = Arc::new(th);
    let t2 = th.clone();
    let (u, a, title) = env.shards.write(S, sid, move |c| write::turn(c, &plan, &t2)).await?;
    if let Some(last) = a.as_ref().or(u.as_ref()) {
        env.sums.record(sid, last.seq, &last.created_at, title);
    }
    env.sums.record_status(sid, &th.execution_status);
    index(env, sid, owner, u.iter().chain(a.iter()));
    Ok(TurnResult {
        user_message: u,
        assistant_message: a,
        status: "active".into(),
        execution_status: th.execution_status.clone(),
        position: client_position(&th.position),
        variables: crate::session::variables::resolve(&th.vars),
        debug: debug.then(|| json!({"calls": th.calls, "text": th.text})),
    })
}

/// Stores a failed turn. A failure to do so is logged: the client gets the turn's error.
async fn record_failure(
    env: &TurnEnv,
    sid: Uuid,
    owner: &Owner,
    plan: Arc<Plan>,
    error: &AppError,
    runs: Vec<RunRecord>,
) {
    let e = json!({"code": error.code, "message": error.message});
    match env.shards.write(S, sid, move |c| write::failed(c, &plan, &e, &runs)).await {
        Ok((Some(u), title)) => {
            env.sums.record(sid, u.seq, &u.created_at, title);
            index(env, sid, owner, [&u]);
        }
        Ok((None, _)) => {}
        Err(w) => tracing::warn!(session = %sid, error = %w, "could not record a failed turn"),
    }
}

type Owner = (Option<String>, Option<String>);

/// The search entries of stored messages.
fn index<'a>(env: &TurnEnv, sid: Uuid, owner: &Owner, messages: impl IntoIterator<Item = &'a Message>) {
    for m in messages {
        env.search.enqueue(crate::search::Entry::new(sid, owner, m.seq, &m.content));
    }
}
