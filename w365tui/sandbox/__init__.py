"""The sandbox: an emulator of Work 365 on Dataverse and of StreamOne Ion, over SQLite.

It is one ASGI app (:mod:`w365tui.sandbox.asgi`) served on loopback by
:mod:`w365tui.sandbox.server`; the app and the tests talk to it over real HTTP with the same
client code that talks to the real services. Nothing here imports Textual.
"""
