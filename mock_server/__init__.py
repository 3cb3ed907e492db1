"""luma-mock: a fake of the AceDataCloud Luma video API.

`engine` is the fake's behaviour in plain Python, whatever API it speaks; `acedata` is
the AceDataCloud dialect it speaks (and `LumaService`, the engine speaking it); `web`
serves an engine over HTTP; `harness` drives a fake from outside; `cli` is the
``luma-mock`` command.
"""
