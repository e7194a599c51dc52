complete --keep-order --exclusive --command keyward --arguments "(COMPLETE=fish keyward -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
