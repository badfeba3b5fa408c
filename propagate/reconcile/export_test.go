package reconcile

// SetOnSync makes c tell f of every template key its workers take up. Call before Run.
func SetOnSync(c *Controller, f func(Key)) { c.onSync = f }
