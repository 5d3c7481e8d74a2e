from sciflow.cli import run_main

run_main()
