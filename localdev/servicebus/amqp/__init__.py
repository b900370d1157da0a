"""The AMQP 1.0 face of the emulator: proton engines in, broker calls out."""
