"""The HTTP layer: the fake's server (gevent, llhttp; several processes on one port with
``--workers``), its WSGI endpoints, the Flask app for media, /health, /openapi.json, the
control API and the dashboard, the in-process transports, the one WSGI environ both the
server and the transports build (`wsgi`), and the request log.

It may import the engine (`mock_server.engine`) and HTTP libraries. It meets a dialect
only through the engine it serves (``luma.dialect``): it never imports one.
"""
