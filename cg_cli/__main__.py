from cg_cli.cli import main

raise SystemExit(main())
