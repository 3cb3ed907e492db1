"""Driving a fake from outside, as a test or a suite does: the fake as a child process
(`process`), its control API from Python (`remote`), and a callback endpoint that
records what the fake delivers (`receiver`).

It may import the engine (for the error codes a control call may name), a dialect
package (which registers them) and client libraries; never the HTTP layer
(`mock_server.web`): it talks to a fake over HTTP like any client.
"""
