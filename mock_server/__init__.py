"""luma-mock: a fake of the AceDataCloud Luma video API.

`engine` is the fake's behaviour in plain Python, whatever API it speaks (`engine.fake`:
one engine per dialect, as equals); `acedata` and `dream_machine` are the dialects it
speaks (with `acedata.LumaService`, a one-dialect fake for Python users); `web` serves a
fake over HTTP; `harness` drives a fake from outside; `cli` is the
``luma-mock`` command. The other modules at this level only keep old import paths
working (each is the module it names).
"""
