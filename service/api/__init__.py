"""The HTTP API: thin routes over the live learner.

``routes`` holds the endpoints, ``schemas`` the request and response bodies (the public HTTP
contract), ``deps`` the typed dependencies that hand a route the running service's parts,
``server`` the HTTP protocol that bounds a request's head and read time.
"""

from service.api.routes import router

__all__ = ["router"]
