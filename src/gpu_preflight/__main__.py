from gpu_preflight.cli import main

raise SystemExit(main())
