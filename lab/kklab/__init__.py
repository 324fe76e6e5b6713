"""kklab: emulators of FortiGate, FortiManager and Knocknoc for knocknoc.fortinet's tests and demo."""
