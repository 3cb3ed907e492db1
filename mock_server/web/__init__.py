"""The HTTP layer: the fake's server (gevent, llhttp), its WSGI endpoints, the Flask app
for media, /health, /openapi.json and the control API, the in-process transports, and
the request log.

It may import the engine (`mock_server.engine`) and HTTP libraries. It meets a dialect
only through the engine it serves (``luma.dialect``): it never imports one.
"""
