from teahouse.cli import main

main()
