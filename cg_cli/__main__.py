from cg_cli.main import main

raise SystemExit(main())
