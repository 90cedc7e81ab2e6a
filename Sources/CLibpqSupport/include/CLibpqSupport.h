/* stand-ins for libpq.a: see the .c files */
