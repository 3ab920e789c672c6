from signalbots.cli import main

raise SystemExit(main())
