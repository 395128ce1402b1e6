package dbustest

import "testing"

func TestStart(t *testing.T) {
	b := Start(t)
	c := b.Conn(t)
	var names []string
	if err := c.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("ListNames: got none, want at least the bus itself")
	}
}
