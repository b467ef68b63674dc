"""Extensions that span a whole run: cross-run state, and the finalizer that publishes it."""
