"""How clients reach the server: stdio (stdio.py), and Streamable HTTP (http.py) behind its front door (the bearer
token or sign-in, front_door.py), bounded sessions (sessions.py), resumable streams (events.py) and the page where a
signed-in person enters their own fal key (key_page.py)."""
