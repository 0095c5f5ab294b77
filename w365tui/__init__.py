"""w365tui: onboard TD SYNNEX StreamOne customers into Work 365 from a terminal."""

__version__ = "0.1.0"
