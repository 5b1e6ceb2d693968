/** Entry of the Node single executable: jiti lent first (embedded-jiti.ts), then the command (entry.ts). */
import "./embedded-jiti.ts";
import "./entry.ts";
