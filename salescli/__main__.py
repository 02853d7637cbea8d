from salescli.cli import main

main()
