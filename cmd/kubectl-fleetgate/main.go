// Command kubectl-fleetgate is fleetgate's command tree as a kubectl plugin ("kubectl fleetgate …").
package main

import (
	"os"

	"github.com/fleetgate/fleetgate/cmd/fleetgate/app"
)

func main() {
	os.Exit(app.Main("kubectl fleetgate"))
}
