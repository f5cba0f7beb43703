"""The guide: a surrogate model of the scores so far that picks a generation's children."""
