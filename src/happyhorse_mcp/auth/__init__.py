"""Who is calling over HTTP: bearer tokens verified into the SDK's AccessToken (and so into a principal,
server/identity.py). Named static tokens (static_tokens.py) or an OAuth 2.1 authorization server's JWTs
(jwt_tokens.py); the front door that asks for them is transport/front_door.py."""
