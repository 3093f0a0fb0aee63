//! Project copy, export and import (filled in by the transfer work).

use axum::Router;

use super::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
}
