using System;
using System.Linq;
using System.Management.Automation;

namespace Chatrm.PowerShell
{
    /// <summary>Lets -Job take a server job or its name, as Get-Job shows it.</summary>
    public sealed class ServerJobTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            object value = inputData is PSObject ps ? ps.BaseObject : inputData;
            if (!(value is string name))
            {
                return inputData;
            }

            var found = ChatrmJobSourceAdapter.All.Where(j => string.Equals(j.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
            switch (found.Count)
            {
                case 1:
                    return found[0];
                case 0:
                    throw new ArgumentTransformationMetadataException($"No Chatrm server job is named '{name}'. Get-Job lists them.");
                default:
                    throw new ArgumentTransformationMetadataException($"{found.Count} Chatrm server jobs are named '{name}'; pass the job itself.");
            }
        }
    }
}
