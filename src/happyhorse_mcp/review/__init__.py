"""Looking at a finished video: its frames as one contact sheet, its sound as levels, and what the file really is."""
