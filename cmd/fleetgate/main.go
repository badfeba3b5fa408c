// Command fleetgate is the multicluster gateway and its command-line tool.
package main

import (
	"os"

	"github.com/fleetgate/fleetgate/cmd/fleetgate/app"
)

func main() {
	os.Exit(app.Main("fleetgate"))
}
