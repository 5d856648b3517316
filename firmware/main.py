"""Boot: the board builds the hardware, the app does the rest."""

import board

from authtok import app

app.run(board.Board())
