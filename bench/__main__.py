import sys

if len(sys.argv) > 1 and sys.argv[1] == "overhead":
    from .overhead import main as overhead_main
    sys.exit(overhead_main(sys.argv[2:]))

if len(sys.argv) > 1 and sys.argv[1] == "int8":
    from .int8 import main as int8_main
    sys.exit(int8_main(sys.argv[2:]))

if len(sys.argv) > 1 and sys.argv[1] == "data":
    from .data_loading import main as data_main
    sys.exit(data_main(sys.argv[2:]))

from .runner import main

sys.exit(main())
