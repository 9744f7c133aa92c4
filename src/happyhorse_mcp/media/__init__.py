"""Local work on video files with PyAV (its FFmpeg filters; no ffmpeg binary): the loudness of a clip, a clip's last
frame, and shots assembled into one film with cuts or crossfades and one loudness for every shot. Blocking: run it
in a worker thread. Imported only when used (PyAV loads in ~0.2 s)."""
