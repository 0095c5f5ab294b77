from w365tui.cli import main

raise SystemExit(main())
