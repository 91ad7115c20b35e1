// Validates Kubernetes objects (YAML documents on stdin, as `kubectl kustomize` renders
// them) against the Kubernetes OpenAPI schemas, with the maintained `kubernetes-models`
// classes. Prints one line per object; exits 1 if any is invalid or of an unknown kind.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

const docs = yaml.loadAll(readFileSync(0, "utf8")).filter(Boolean);
let failed = 0;
for (const obj of docs) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const name = `${obj.apiVersion} ${obj.kind} ${obj.metadata?.namespace ?? "-"}/${obj.metadata?.name}`;
  // Core types live at kubernetes-models/v1, the others at kubernetes-models/<group>/<version>.
  const path = group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/${version}/${obj.kind}`;
  let Model;
  try {
    Model = (await import(path))[obj.kind];
  } catch (e) {
    if (e.code !== "ERR_MODULE_NOT_FOUND" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
    console.log(`UNKNOWN ${name}: no model for this kind (a CRD would need its own models)`);
    failed++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`ok ${name}`);
  } catch (e) {
    console.log(`INVALID ${name}: ${e.message}`);
    failed++;
  }
}
console.log(`${docs.length} objects, ${failed} invalid`);
process.exit(failed || docs.length === 0 ? 1 : 0);
