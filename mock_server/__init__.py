"""luma-mock: a fake of the AceDataCloud Luma video API and of Luma's own Dream Machine
API.

`engine` is the fake's behaviour in plain Python, whatever API it speaks; `acedata` and
`dream_machine` are the two dialects it speaks (`acedata.LumaService` is the engine
speaking the first); `web` serves engines over HTTP; `harness` drives a fake from
outside; `cli` is the ``luma-mock`` command.
"""
