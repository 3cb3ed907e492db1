"""luma-mock: a fake of the AceDataCloud Luma video API and of Luma's own Dream Machine
API.

`engine` is the fake's behaviour in plain Python, whatever API it speaks (`engine.fake`:
one engine per dialect, as equals); `acedata` and `dream_machine` are the two dialects
it speaks (`acedata.LumaService` is a one-dialect fake for Python users); `web` serves a
fake over HTTP; `harness` drives a fake from outside; `cassettes` reads, writes,
redacts and checks recorded sessions (record and replay); `cli` is the ``luma-mock``
command.
"""
