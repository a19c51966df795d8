from gpu_preflight.cli.main import main

raise SystemExit(main())
