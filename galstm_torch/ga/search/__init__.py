"""The search loop, its settings and state, its pace, and the events it tells the sinks."""
