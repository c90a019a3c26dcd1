"""The imperative shell: the pipeline, hooks and the outbox, handoffs, routing, calendar."""
