package proxy

// What the pin store (proxy/pinstore) needs: the pins that changed, all pins
// for a compaction, and a way to put back what it read.

// TakePinChanges appends to dst the current state of every pin that started,
// moved or ended since the last call, and of every pin whose last-seen time
// moved on by more than a tenth of the idle timeout (at most a minute) since
// it was last taken. A pin that changed several times is taken once.
func (p *Proxy) TakePinChanges(dst []PinChange) []PinChange { return p.pins.takeChanges(dst) }

// EachPin calls fn with every pin, a few thousand at a time, in a buffer
// that fn must not keep. A request waits for at most one batch's copy.
func (p *Proxy) EachPin(fn func([]PinChange) error) error { return p.pins.each(fn) }

// LoadPins applies changes read back by the store, in order: pins start,
// move and end as they did. They are not taken again by TakePinChanges.
func (p *Proxy) LoadPins(cs []PinChange) { p.pins.load(cs) }
