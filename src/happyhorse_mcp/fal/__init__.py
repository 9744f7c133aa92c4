"""The only code that speaks to fal: the queue, storage uploads and video downloads."""
