// Placeholder until the offline stack lands: the integration project has nothing to start yet.
export default async function setup(): Promise<void> {}
