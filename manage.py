#!/usr/bin/env python
from dealercrm.__main__ import main

if __name__ == "__main__":
    main()
