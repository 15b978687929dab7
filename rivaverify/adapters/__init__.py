"""The only places rivaverify imports another product: one module per product, imported where it is used.

rivaverify runs without them (riva-lite and the gateway are extras); each adapter turns a missing product or its
error into rivaverify's own error, naming what to install or set."""
