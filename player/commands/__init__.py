"""One module per ``fmsmi`` subcommand (see fmsmi.player.cli)."""
