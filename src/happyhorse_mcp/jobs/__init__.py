"""Jobs from admission to result: the runner, the spend guard and the store behind them."""
