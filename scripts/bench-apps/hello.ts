/** The benchmark workload as a tsgw app (see workload.ts). */
import { handle } from "./workload.ts";

export default handle;
